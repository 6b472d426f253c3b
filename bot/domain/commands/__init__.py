"""The one command grammar: `ua …` in the console, `/ua …` in Slack, `!ua …` in Matrix.

`table` declares every verb once (usage, help, the role it needs, how its words are read);
`forms` holds what a command is parsed into, `request` the platform-neutral request a
connector hands over, `words` and `alert_words` the reading of values shared by the parsers.
"""
