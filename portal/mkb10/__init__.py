"""The ICD-10 reference book (МКБ-10): the full Russian list in the database, its search, the public
«Справочник МКБ-10» pages and the combobox that picks a code (docs/mkb10.md)."""
