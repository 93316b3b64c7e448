# The grid texts (English); ids shared with ../zh-CN/grid.ftl.

grid-door-to-door-screening = door-to-door screening
grid-delivery = delivery
grid-home-isolation-check = home isolation check
grid-missed-health-report = missed health report
grid-arrange-a-test = arrange a test
grid-arrange-a-retest = arrange a retest
grid-resident-not-sampled = resident not sampled
grid-single-tube-retest-positive-pool = single-tube retest (positive pool)
grid-closed-loop-transfer-of-a-case = closed-loop transfer of a case
grid-vaccination-outreach-60-no-full = vaccination outreach (60+, no full course)
grid-task-done = Task done:
grid-no-open-tasks-in-your-cells = No open tasks in your cells.
grid-overdue = overdue
grid-due-today = due today
grid-due = due
grid-cell = cell
grid-what-was-done = What was done
grid-mark-done = Mark done
grid-task-count = { $open } open tasks: { $today } due today, { $overdue } overdue.
