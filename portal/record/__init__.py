"""The patient's card: the Patient and, in later issues, every section of the record."""
