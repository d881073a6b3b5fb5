"""Bland's plans (caps and per-minute price) and the scenarios the simulator plays, chosen by number."""

from __future__ import annotations

from dataclasses import dataclass

MIN_PRICE = 0.015
MSG_SAME_NUMBER = "Calls can only be sent every 10 seconds to the same number. Please try again in a few seconds."
MSG_RATE_LIMIT = "Rate limit exceeded"
MSG_BALANCE = "Insufficient balance."
MSG_BUSY = "Call failed. The number you dialed is busy. Please try again later."
MSG_NOT_FOUND = "Call failed. The number you dialed is not found."



@dataclass(frozen=True)
class Plan:
    """Bland's plan caps (billing page, effective 2025-12-05) and per-minute price. None = unlimited."""

    name: str
    per_day: int | None
    per_hour: int | None
    concurrency: int | None
    rate_per_minute: float


PLANS: dict[str, Plan] = {
    "start": Plan("start", 100, 100, 10, 0.14),
    "build": Plan("build", 2000, 1000, 50, 0.12),
    "scale": Plan("scale", 5000, 1000, 100, 0.11),
    "enterprise": Plan("enterprise", None, None, None, 0.09),
}


@dataclass(frozen=True)
class Scenario:
    name: str
    answered_by: str
    status: str
    ring_seconds: float
    talk_seconds: float  # 0 for calls that never connect
    error_message: str | None
    disposition: str
    summary: str

    @property
    def connects(self) -> bool:
        return self.talk_seconds > 0


HUMAN = Scenario("human", "human", "completed", 5, 45, None, "COMPLETED_ACTION", "")
VOICEMAIL = Scenario("voicemail", "voicemail", "completed", 8, 20, None, "NO_CONTACT_MADE", "")
BUSY = Scenario("busy", "unknown", "busy", 2, 0, MSG_BUSY, "BUSY", "The line was busy; the call did not connect.")
NO_ANSWER = Scenario("no-answer", "no-answer", "no-answer", 30, 0, None, "NO_ANSWER", "Nobody answered the call.")
FAILED = Scenario("failed", "unknown", "failed", 1, 0, MSG_NOT_FOUND, "FAILED", "The call failed: number not found.")
LONG = Scenario("long", "human", "completed", 5, 600, None, "COMPLETED_ACTION", "")
SCENARIOS_BY_DECADE: dict[int, Scenario] = {0: HUMAN, 1: VOICEMAIL, 2: BUSY, 3: NO_ANSWER, 4: FAILED, 5: LONG}


def scenario_for(national_number: str) -> Scenario:
    """The scenario of a number: by the tens digit of its last two digits, human when unlisted."""
    tail = national_number[-2:]
    return SCENARIOS_BY_DECADE.get(int(tail) // 10, HUMAN) if tail.isdigit() else HUMAN
