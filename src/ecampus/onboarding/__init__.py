"""Bulk onboarding: participants from a coordinator's spreadsheet (CSV or XLSX) into a cohort."""
