"""The profile: contact details (changed through the security page, with confirmation again),
notification preferences, and language and theme saved on the account for every device."""
