"""`ccpulse top`: the live terminal wallboard (`view` lays out rows, `source` reads Redis,
`app` is the Textual application)."""
