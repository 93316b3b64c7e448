# The ledger texts (English); ids shared with ../zh-CN/ledger.ftl.

ledger-colour-ledger-today = Colour ledger today
ledger-alarm-colour-changes-without-a-case = Alarm: colour changes without a case link above the policy threshold
ledger-turned-red = Turned red
ledger-turned-yellow = Turned yellow
ledger-without-a-case-link = Without a case link
ledger-threshold = threshold
ledger-no-colour-changes-today = No colour changes today
ledger-basis = Basis
ledger-decided-by = Decided by
ledger-colour = Colour
ledger-people = People
