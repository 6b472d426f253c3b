"""The Slack connector: slash commands and events in, Block Kit messages out (slack-bolt, async)."""
