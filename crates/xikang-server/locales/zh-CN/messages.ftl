# The messages texts (Chinese); ids shared with ../en/messages.ftl.

messages-new = 待受理
messages-accepted = 办理中
messages-replied = 已答复
messages-closed = 已办结
messages-accept = 受理
messages-reply-public-numbers-are-masked = 答复（公开，号码自动遮盖）
messages-close-it-too = 同时办结
messages-send-the-reply = 提交答复
messages-same = 不变
messages-transfer-or-close = 转办或办结
messages-department = 承办部门
messages-to-district = 转至区
messages-reason-for-the-transfer = 转办理由
messages-transfer = 转办
messages-why-it-is-closed = 办结说明
messages-close = 办结
messages-escalated = {" "}· 已督办
messages-overdue = {" "}· 已超期
messages-due = 时限
messages-reply = 答复：
messages-next-page = 下一页
messages-message-board = 留言办理
messages-count = 共 { $n } 件。超过时限未答复的留言由系统督办至市级。
