"""Every schema change is an Alembic migration: the models and the migrations agree."""

from __future__ import annotations

from alembic import command

from ecampus.dbmigrate import alembic_config


def test_migrations_match_the_models(database_url: str) -> None:
    command.check(alembic_config(database_url))  # raises when autogenerate finds a difference


def test_downgrade_and_upgrade_again(database_url: str) -> None:
    config = alembic_config(database_url)
    command.downgrade(config, "base")
    command.upgrade(config, "head")
