"""Errors of campaigns, each with a machine code (translated by the DRF handler and the MCP dispatcher)."""

from config.errors import DomainError, NotFound


class CampaignNotFound(NotFound):
    code = "campaign_not_found"
    message_template = "Campaign {campaign_id} not found."


class InvalidCampaign(DomainError):
    """The campaign as a whole, or some of its rows, are wrong. ``rows`` lists every bad row with its index
    (``[{"index", "phone_number", "problems"}]``); nothing was placed or charged."""

    code = "invalid_campaign"
    http_status = 400
    message_template = "{reason}"


class CampaignTooLarge(DomainError):
    code = "campaign_too_large"
    http_status = 400
    message_template = ("A campaign calls at most {limit:,} numbers; this one has {count:,}. Split it into "
                        "several campaigns. Nothing was placed or charged.")


class CampaignNotCancellable(DomainError):
    code = "campaign_not_cancellable"
    http_status = 409
    message_template = "Campaign {campaign_id} already ended: every call has finished, so there is nothing to stop."
