"""The accountant's workspace: the paid services an organisation rendered, per period, per
department, per patient category and per service, as a table and as CSV files (docs/accounting.md)."""
