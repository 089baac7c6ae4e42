"""Planted mistakes for the checks of the half exercises: plausible wrong answers each check must reject."""

#: check name -> wrong answers.
WRONG: dict = {}
