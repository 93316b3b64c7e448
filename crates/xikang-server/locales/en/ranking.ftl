# The ranking texts (English); ids shared with ../zh-CN/ranking.ftl.

ranking-coverage-is-of-the-latest-round = Coverage is of the latest round:
ranking-no-screening-round-yet = No screening round yet.
ranking-ranked-on-four-measures-median-time = Ranked on four measures: median time from a case's registration to its contacts' quarantine (cases of the last 14 days; contacts still waiting count their wait so far), screening coverage, overdue grid tasks, breached 四早 timers. A district gets a point per district better on each measure; most points first (worst), fewest last (best).
ranking-ranking-worst-first = Ranking (worst first)
ranking-rank = Rank
ranking-case-to-quarantine-median = Case to quarantine (median)
ranking-quarantined-designated = Quarantined / designated
ranking-overdue-tasks = Overdue tasks
ranking-sampled-expected = Sampled / expected
ranking-coverage = Coverage
