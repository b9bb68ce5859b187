"""The store's schema as Alembic migrations: env.py runs them, versions/ holds one file a
revision. flows/store/migrate.py runs them when a store is opened."""
