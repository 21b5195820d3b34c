"""Orders from the visit: the prescriptions, referrals and vaccinations a doctor writes from an
appointment of their day, and the vaccinations a nurse gives (docs/orders.md)."""
