# The site texts (Chinese); ids shared with ../en/site.ftl.

site-active = 隔离中
site-released = 已解除
site-ended = 已终止
site-open = 打开
site-occupied-capacity = 在住 / 容量
site-tests-due-today = 今日应检
site-day = 隔离第
site-admitted-orders = 在住人员（隔离令）
site-order = 隔离令
site-regime = 方案
site-admitted = 入住
site-planned-end = 计划解除
site-test-days = 检测日
site-release = 解除
site-release-2 = 解除隔离
site-released-2 = 已解除
site-reason = 原因
site-ended-2 = 结束
site-no-quarantine-site-is-assigned-to = 您名下没有隔离点。
site-active-orders = 有效隔离令 { $n } 份。
site-swab-today = 今日需采样 { $n } 人。
site-released-note = { $order } 已解除隔离。
site-extended-note = { $order } 有检测缺失或阳性，已按政策延长隔离并派发复检任务。
