"""Export of the whole card: a PDF summary and a FHIR R4 International Patient Summary."""
