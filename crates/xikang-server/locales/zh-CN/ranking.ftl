# The ranking texts (Chinese); ids shared with ../en/ranking.ftl.

ranking-coverage-is-of-the-latest-round = 筛查覆盖率按最近一轮：
ranking-no-screening-round-yet = 尚无筛查轮次。
ranking-ranked-on-four-measures-median-time = 排名按四项指标：病例登记到密接隔离的中位用时（近14天病例，未隔离者按已等待时间计）、筛查覆盖率、逾期网格任务、四早超时环节数；每项每落后于一个区县得 1 分，得分最高者排最前（黑榜），最低者排最后（红榜）。
ranking-ranking-worst-first = 红黑榜（最差在前）
ranking-rank = 名次
ranking-case-to-quarantine-median = 密接隔离用时（中位）
ranking-quarantined-designated = 已隔离 / 已确认密接
ranking-overdue-tasks = 逾期任务
ranking-sampled-expected = 已采样 / 应采样
ranking-coverage = 覆盖率
