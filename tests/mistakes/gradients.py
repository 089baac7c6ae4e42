"""Planted mistakes for the checks of the gradients exercises: plausible wrong answers each check must reject."""

#: check name -> wrong answers.
WRONG: dict = {}
