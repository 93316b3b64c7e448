# The messages texts (English); ids shared with ../zh-CN/messages.ftl.

messages-new = New
messages-accepted = Accepted
messages-replied = Replied
messages-closed = Closed
messages-accept = Accept
messages-reply-public-numbers-are-masked = Reply (public; numbers are masked)
messages-close-it-too = Close it too
messages-send-the-reply = Send the reply
messages-same = Same
messages-transfer-or-close = Transfer or close
messages-department = Department
messages-to-district = To district
messages-reason-for-the-transfer = Reason for the transfer
messages-transfer = Transfer
messages-why-it-is-closed = Why it is closed
messages-close = Close
messages-escalated = {" "}· escalated
messages-overdue = {" "}· overdue
messages-due = due
messages-reply = Reply:
messages-next-page = Next page
messages-message-board = Message board
messages-count = { $n } messages. Messages unanswered past their deadline are escalated to the city.
