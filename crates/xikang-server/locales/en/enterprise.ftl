# The enterprise texts (English); ids shared with ../zh-CN/enterprise.ftl.

enterprise-green = green
enterprise-yellow = yellow
enterprise-red = red
enterprise-unified-social-credit-code = Unified social credit code:
enterprise-filings-to-resume-work = Filings to resume work
enterprise-filed = Filed
enterprise-workers = Workers
enterprise-green-today = Green today
enterprise-approved = Approved
enterprise-returned = Returned
enterprise-pending = Pending
enterprise-supply-demand-board = Supply–demand board
enterprise-offer = Offer
enterprise-need = Need
enterprise-close = Close
enterprise-item = Item
enterprise-quantity = Quantity
enterprise-post = Post
enterprise-valid-until = Valid until
