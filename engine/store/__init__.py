"""Every SQL statement of rca-tui: the schema and its migrations, the connection, the repositories."""
