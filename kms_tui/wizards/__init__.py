"""Step-by-step wizards: create, import, sign, verify."""
