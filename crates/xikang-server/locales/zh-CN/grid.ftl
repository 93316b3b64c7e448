# The grid texts (Chinese); ids shared with ../en/grid.ftl.

grid-door-to-door-screening = 上门排查
grid-delivery = 生活物资配送
grid-home-isolation-check = 居家隔离查看
grid-missed-health-report = 健康日报未报
grid-arrange-a-test = 安排核酸检测
grid-arrange-a-retest = 安排复检
grid-resident-not-sampled = 未采样居民
grid-single-tube-retest-positive-pool = 混检阳性单管复核
grid-closed-loop-transfer-of-a-case = 病例闭环转运至定点医院
grid-vaccination-outreach-60-no-full = 60岁以上未全程接种：上门动员
grid-task-done = 已完成任务
grid-no-open-tasks-in-your-cells = 您的网格今天没有待办任务。
grid-overdue = 已逾期
grid-due-today = 今日到期
grid-due = 到期
grid-cell = 网格
grid-what-was-done = 处理情况
grid-mark-done = 标记完成
grid-task-count = 待办 { $open } 项，其中今日到期 { $today } 项，已逾期 { $overdue } 项。
