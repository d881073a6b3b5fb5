"""The rules of a call request that every interface shares: phone numbers and languages.

Messages are ours (never the phonenumbers library's), name the field, say what a good value looks like,
and show at most a few dozen characters of what was sent.
"""

from __future__ import annotations

import phonenumbers
from phonenumbers import NumberParseException, ValidationResult

from calls import errors

ECHO_CHARS = 40
EXAMPLE = "+14155550123"
# Bland's documented language codes (reference/bland_api.md section 2); "" means Bland's default, babel-en.
LANGUAGES = (
    "babel", "fluent", "en", "babel-en", "en-US", "en-GB", "en-AU", "en-NZ", "en-IN", "es", "babel-es", "es-419",
    "fr", "babel-fr", "fr-CA", "de", "babel-de", "el", "hi", "hi-Latn", "hu", "ja", "ko", "ko-KR", "vi", "pt",
    "pt-BR", "pt-PT", "zh", "zh-CN", "zh-Hans", "zh-TW", "zh-Hant", "it", "nl", "pl", "ru", "sv", "sv-SE", "da",
    "da-DK", "fi", "no", "id", "ms", "tr", "uk", "bg", "cs", "ro", "sk", "auto",
)
LANGUAGE_EXAMPLES = "en-US, en-GB, es, es-419, fr, de, pt-BR, ja or auto"

_PARSE_PROBLEMS = {
    NumberParseException.INVALID_COUNTRY_CODE: "does not start with a known country code after the +",
    NumberParseException.NOT_A_NUMBER: "is not a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "is too short to be a phone number",
    NumberParseException.TOO_SHORT_NSN: "is too short to be a phone number",
    NumberParseException.TOO_LONG: "is too long to be a phone number (at most 15 digits)",
}
_LENGTH_PROBLEMS = {
    ValidationResult.TOO_SHORT: "is too short for its country",
    ValidationResult.TOO_LONG: "is too long for its country",
    ValidationResult.INVALID_LENGTH: "has the wrong number of digits for its country",
    ValidationResult.INVALID_COUNTRY_CODE: "does not start with a known country code after the +",
}


def shown(value: object) -> str:
    """``value`` quoted for a message, cut to a few dozen characters."""
    text = str(value)
    return repr(text) if len(text) <= ECHO_CHARS else f"{text[:ECHO_CHARS]!r}... ({len(text):,} characters)"


def _invalid_number(field: str, raw: str, problem: str) -> errors.InvalidCallRequest:
    return errors.InvalidCallRequest(
        reason=f"{field} {shown(raw)} {problem}; write it in E.164 format: a +, the country code and the "
               f"number, e.g. {EXAMPLE}.")


def normalize_phone_number(raw: object, *, field: str = "phone_number") -> str:
    """E.164 (``+14155550123``) or ``InvalidCallRequest`` saying exactly what is wrong."""
    if not isinstance(raw, str) or not raw.strip():
        raise errors.InvalidCallRequest(reason=f"{field} is required, in E.164 format such as {EXAMPLE}.")
    text = raw.strip()
    if not text.startswith("+"):
        raise _invalid_number(field, text, "has no + and country code")
    try:
        number = phonenumbers.parse(text, None)
    except NumberParseException as exc:
        raise _invalid_number(field, text, _PARSE_PROBLEMS.get(exc.error_type, "is not a phone number")) from None
    if not phonenumbers.is_valid_number(number):
        reason = phonenumbers.is_possible_number_with_reason(number)
        raise _invalid_number(field, text, _LENGTH_PROBLEMS.get(reason, "is not a valid, dialable number"))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def check_language(language: str) -> str:
    """One of Bland's language codes (or "" for its default), else ``InvalidCallRequest`` naming a few."""
    if language and language not in LANGUAGES:
        raise errors.InvalidCallRequest(
            reason=f"language {shown(language)} is not a language the phone provider supports; use one of its "
                   f"codes, e.g. {LANGUAGE_EXAMPLES} ({len(LANGUAGES)} in all).")
    return language
