"""Certificates and extracts by their real names (приказ 972н): ordered by the citizen, issued
as tagged PDFs with a verification QR code."""
