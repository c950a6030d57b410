"""Does a (speculative) transcript read like a finished request? Text rules, English.

Three answers: INCOMPLETE when the text stops on a word that needs a continuation ("set the
thermostat to", "what's the"), COMMAND when it is a whole request of a kind Home Assistant's
built-in intents handle ("turn on the kitchen lights", "set the thermostat to 21 degrees"),
NEUTRAL otherwise (a clause that ends but is not a known command shape).
"""

from __future__ import annotations

import enum
import re


class TextTurn(enum.StrEnum):
    INCOMPLETE = "incomplete"
    COMMAND = "command"
    NEUTRAL = "neutral"
    EMPTY = "empty"


CONTINUATION_WORDS = frozenset(
    """a an the to of for from with about at in on into onto by per and or but nor so because
    if then than that which who whose whom when where while until unless my your our their his
    her its this these those some any every each no is are was were be been being am can could
    would should will shall must may might do does did has have had set turn switch make put
    start play add remind tell give show let what's whats what how why is it's its around
    between like as very really more less please uh um""".split()  # noqa: SIM905
)
"""A transcript ending on one of these is waiting for the rest of its sentence."""
_FINISHED_TAILS = frozenset({"please", "it"})
"""Words above that may also end a finished request ("... please", "what time is it")."""

_NUMBER = (
    r"(\d+(\.\d+)?|zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|"
    r"fifty|sixty|seventy|eighty|ninety|hundred|half|a|an)"
)
_NUMBERS = rf"{_NUMBER}([ -]{_NUMBER})*"
_THING = r"(the |my |all (the )?)?[a-z' ]*[a-z]"
COMMAND_PATTERNS = tuple(
    re.compile(p)
    for p in (
        rf"^(please )?(turn|switch) (on|off) {_THING}( please)?$",
        rf"^(please )?(turn|switch) {_THING} (on|off)( please)?$",
        rf"^(please )?(open|close|lock|unlock|toggle) {_THING}( please)?$",
        rf"^(please )?(set|change|put|turn) {_THING} to {_NUMBERS}"
        r"( degrees( celsius| fahrenheit)?| percent| %)( please)?$",
        rf"^(please )?(dim|brighten) {_THING}( to {_NUMBERS}( percent| %))?$",
        rf"^(please )?(set|start) (a |an )?{_NUMBERS}[ -](second|minute|hour)s? timer$",
        rf"^(please )?(set|start) (a )?timer for {_NUMBERS} (second|minute|hour)s?"
        r"( and {_NUMBERS} (second|minute)s?)?$",
        r"^what('s| is) the (time|date|weather|temperature)( (today|now|outside|inside))?$",
        r"^what time is it( now)?$",
        r"^what day is (it|today)$",
        r"^(is|are) [a-z' ]+ (on|off|open|closed|locked|unlocked)$",
        r"^(pause|resume|stop|skip)( the)?( music| song| track| media)?$",
        r"^(next|previous) (song|track)$",
        rf"^add {_THING} to (my |the )?(shopping|grocery|to-?do) list$",
        r"^(cancel|stop) (the |my )?timer$",
    )
)


def normalize(transcript: str) -> str:
    """Lower case, words and apostrophes only, single spaces."""
    text = transcript.lower().replace("%", " percent")
    text = re.sub(r"[^a-z0-9'.\- ]+", " ", text)
    text = re.sub(r"(?<!\d)\.|\.(?!\d)", " ", text)
    return " ".join(text.split())


def classify(transcript: str) -> TextTurn:
    """The text rule's answer for a transcript (Whisper's punctuation is not trusted)."""
    raw = transcript.strip()
    text = normalize(raw)
    if not text:
        return TextTurn.EMPTY
    if raw.endswith(("...", "…", ",", "-", "—")):
        return TextTurn.INCOMPLETE
    last = text.rsplit(" ", 1)[-1]
    if last in CONTINUATION_WORDS and not (last in _FINISHED_TAILS and " " in text):
        return TextTurn.INCOMPLETE
    if any(pattern.match(text) for pattern in COMMAND_PATTERNS):
        return TextTurn.COMMAND
    return TextTurn.NEUTRAL
