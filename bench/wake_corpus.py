"""Texts of the wake word bench: commands said after the wake word, and speech without it."""

from __future__ import annotations

import itertools

import numpy as np

COMMANDS = (
    "turn off the lights.",
    "what time is it?",
    "set a timer for ten minutes.",
    "turn on the kitchen lights.",
    "what's the weather like tomorrow?",
    "lock the front door.",
    "set the thermostat to twenty one degrees.",
    "play some music in the living room.",
    "close the garage door.",
    "dim the bedroom lights to fifty percent.",
)

_ROOMS = (
    "kitchen",
    "living room",
    "bedroom",
    "office",
    "bathroom",
    "hallway",
    "garage",
    "dining room",
    "nursery",
    "basement",
)
_THINGS = ("lights", "lamp", "fan", "heater", "blinds", "speaker", "television", "radio")
_COMMAND_FORMS = (
    "Turn on the {room} {thing}.",
    "Turn off the {room} {thing}, please.",
    "Could you switch the {thing} in the {room} off?",
    "Set the {room} {thing} to half.",
    "Is the {thing} in the {room} still on?",
    "Please open the {room} {thing} a little.",
)
_QUESTIONS = (
    "What time is it in Tokyo right now?",
    "How long does it take to boil an egg?",
    "Who wrote the novel about the white whale?",
    "What is the capital of Australia?",
    "How many days are left until the weekend?",
    "Can you tell me a joke about cats?",
    "What should I cook for dinner tonight?",
    "How far away is the moon?",
    "Will it rain in the afternoon?",
    "What's on my calendar for tomorrow morning?",
    "How do you say thank you in Japanese?",
    "Remind me what the square root of two is.",
    "Why is the sky blue during the day?",
    "Which planet is the largest in the solar system?",
    "What is a good name for a small grey dog?",
    "How many cups are in a liter?",
    "When does the bakery down the street open?",
    "What is the tallest mountain in Europe?",
    "Tell me something interesting about octopuses.",
    "How warm will it be on Saturday?",
)
_REPLIES = (
    "Turned on the {room} {thing}.",
    "The {thing} in the {room} is now off.",
    "It is currently twenty two degrees in the {room}.",
    "I couldn't find a device called {thing} in the {room}.",
    "Okay, I set the {room} {thing} to fifty percent.",
    "Sure. The {room} {thing} will switch off in ten minutes.",
)
_ANSWERS = (
    "It's a quarter past seven in the evening.",
    "Tomorrow will be mostly sunny with a high of eighteen degrees.",
    "Your timer for ten minutes has started.",
    "The front door is locked and the garage is closed.",
    "Here is a joke: why did the cat sit on the computer? To keep an eye on the mouse.",
    "The capital of Australia is Canberra.",
    "The moon is about three hundred and eighty four thousand kilometers away.",
    "A soft boiled egg takes about six minutes.",
    "Jupiter is the largest planet in the solar system.",
    "I'm sorry, I didn't catch that. Could you say it again?",
    "You have two meetings tomorrow, the first one at nine.",
    "In Japanese, thank you is arigato.",
    "Sunlight is scattered by the air, and blue light is scattered the most.",
    "Mount Elbrus is the tallest mountain in Europe.",
    "Octopuses have three hearts and blue blood.",
    "The bakery opens at seven in the morning.",
)
_CHATTER = (
    "I think we should leave a bit earlier today.",
    "Did you remember to buy milk on the way home?",
    "The meeting was moved to Thursday afternoon.",
    "Can you pass me the salt, please?",
    "We'll talk about it after dinner.",
    "The kids are playing in the garden again.",
    "My phone battery is almost empty.",
    "Let's watch a movie tonight, something funny.",
    "Okay, I'll call you back in five minutes.",
    "No, not that one, the blue one on the left.",
    "Honestly, I have no idea where I put my keys.",
    "Nobody answered the door when I knocked.",
    "Okay then, see you tomorrow at the station.",
    "A neighbour brought us some apples from her tree.",
)


def non_wake_texts(rng: np.random.Generator) -> list[str]:
    """Commands, questions, replies and chatter without the wake word, shuffled."""
    pairs = list(itertools.product(_ROOMS, _THINGS))
    texts = [form.format(room=r, thing=t) for form in _COMMAND_FORMS for r, t in pairs]
    texts += [form.format(room=r, thing=t) for form in _REPLIES for r, t in pairs]
    texts += [*_QUESTIONS, *_ANSWERS, *_CHATTER] * 3
    order = rng.permutation(len(texts))
    return [texts[i] for i in order]
