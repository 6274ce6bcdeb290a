"""The resident registry: CRUD services, face enrolment and CSV import."""
