"""Example mediagate connector plugin: publishes posts to the tiny "echo CMS"."""

from mediagate_echo.connector import EchoConnector

__all__ = ["EchoConnector"]
