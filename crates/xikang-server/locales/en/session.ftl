# The session texts (English); ids shared with ../zh-CN/session.ftl.

session-password = Password
session-log-in = Log in
