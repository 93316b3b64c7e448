# The session texts (Chinese); ids shared with ../en/session.ftl.

session-password = 密码
session-log-in = 登录
