"""Organisations, practitioners, slots and bookings. Now: the directory of medical organisations."""
