"""Alembic environment: runs on the connection punchcard hands over, or on
``sqlalchemy.url`` when alembic is driven directly."""

from alembic import context
from sqlalchemy import create_engine

from punchcard.plugins.sql.models import Base

config = context.config
target_metadata = Base.metadata


def run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run(connection)
        return
    if context.is_offline_mode():
        context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                          literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("alembic needs a database: set sqlalchemy.url, or run it through punchcard")
    engine = create_engine(url, hide_parameters=True)
    with engine.connect() as conn:
        run(conn)
        conn.commit()


main()
