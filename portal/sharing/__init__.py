"""Trusted persons (grants) and guardianship: who else may open a card, how far and how long."""
