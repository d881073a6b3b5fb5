from django.urls import path

from calls import analysis_api, apis, webhooks
from calls.campaigns import apis as campaign_apis

app_name = "calls"

urlpatterns = [
    path("calls/", apis.CallCollectionApi.as_view(), name="calls"),
    path("calls/<str:call_id>/", apis.CallDetailApi.as_view(), name="call_detail"),
    path("calls/<str:call_id>/cancel/", apis.CallCancelApi.as_view(), name="call_cancel"),
    path("calls/<str:call_id>/analyze/", analysis_api.CallAnalyzeApi.as_view(), name="call_analyze"),
    path("voices/", analysis_api.VoiceListApi.as_view(), name="voices"),
    path("account/", analysis_api.AccountStatusApi.as_view(), name="account_status"),
    path("calls/<str:call_id>/transcript/", apis.CallTranscriptApi.as_view(), name="call_transcript"),
    path("calls/<str:call_id>/recording/", apis.CallRecordingApi.as_view(), name="call_recording"),
    # No trailing slash: calls.recordings.recording_link builds this URL.
    path("calls/<str:call_id>/recording/download", apis.CallRecordingDownloadApi.as_view(),
         name="call_recording_download"),
    path("campaigns/", campaign_apis.CampaignCollectionApi.as_view(), name="campaigns"),
    path("campaigns/<str:campaign_id>/", campaign_apis.CampaignDetailApi.as_view(), name="campaign_detail"),
    path("campaigns/<str:campaign_id>/analyze/", analysis_api.CampaignAnalyzeApi.as_view(), name="campaign_analyze"),
    path("campaigns/<str:campaign_id>/cancel/", campaign_apis.CampaignCancelApi.as_view(), name="campaign_cancel"),
    path("webhooks/bland", webhooks.BlandWebhookApi.as_view(), name="webhook_bland"),
]
