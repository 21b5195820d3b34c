"""The directory: organisations, departments, practitioners, search, and the change of the
clinic a citizen is attached to («прикрепление»)."""
