"""The organisation admin's workspace: the staff of their organisation, invitations by e-mail,
roles and suspension. No medical data anywhere in it."""
