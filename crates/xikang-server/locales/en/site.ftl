# The site texts (English); ids shared with ../zh-CN/site.ftl.

site-active = active
site-released = released
site-ended = ended
site-open = Open
site-occupied-capacity = Occupied / capacity
site-tests-due-today = Tests due today
site-day = day
site-admitted-orders = Admitted (orders)
site-order = Order
site-regime = Regime
site-admitted = Admitted
site-planned-end = Planned end
site-test-days = Test days
site-release = Release
site-release-2 = Release
site-released-2 = Released
site-reason = Reason
site-ended-2 = Ended
site-no-quarantine-site-is-assigned-to = No quarantine site is assigned to you.
site-active-orders = { $n } active orders.
site-swab-today = { $n } people to swab today.
site-released-note = { $order } released.
site-extended-note = { $order } has a missing or positive test: extended by the policy, a retest task is out.
