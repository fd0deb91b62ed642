# Visio-Public kiosk — English.

starting = Starting the kiosk…

home-title = Hello!
home-subtitle = Touch the service you want to reach. An adviser will answer you by video.
language-switch = Français
service-open = Open until { $time }
service-open-late = Open
service-opens-today = Opens at { $time }
service-closed = Closed
service-closed-opens = Opens { $when }
when-today = today at { $time }
when-tomorrow = tomorrow at { $time }
when-day = { $weekday } at { $time }
weekday-1 = Monday
weekday-2 = Tuesday
weekday-3 = Wednesday
weekday-4 = Thursday
weekday-5 = Friday
weekday-6 = Saturday
weekday-7 = Sunday
notice-closed = { $service } is closed now. It opens { $when }.
notice-closed-unknown = { $service } is closed now.
notice-busy = A call is already in progress on this kiosk.
notice-unknown = This service is not available at this kiosk.

requesting = Calling { $service }…

waiting-title = An adviser from { $service } will answer you
waiting-position = { $position ->
    [1] You are next.
   *[other] You are number { $position } in the queue.
}
waiting-transferred = Your request has been passed on to { $service }: { $position ->
    [1] you are next.
   *[other] you will be seen first.
}
waiting-estimate = Estimated wait: about { $minutes } minutes.
waiting-estimate-soon = Estimated wait: less than a minute.
waiting-estimate-unknown = An adviser will answer you as soon as possible.
waiting-cancel = Cancel
waiting-reconnecting = Connection lost, reconnecting… You keep your place.
presence-question = Are you still there? Touch the screen to keep your place.

call-with = You are talking with { $agent }
call-connecting = Connecting the video…
call-reconnecting = Connection lost, reconnecting…
call-you = You
call-end = End call
call-confirm = Do you really want to end the call?
call-confirm-yes = Yes, end it
call-confirm-no = No, continue
scan-place = Place your document face down on the scanner.
scan-place-feeder = Place your document face down on the scanner glass, or all your pages in its feeder.
scan-progress = Scanning… { $percent } %
scan-waiting = Scanning…
scan-sent = Document sent to the adviser.
print-printing = Printing… Take your document from the printer.
print-done = Take your document from the printer.
doc-failed = The document could not be handled. The adviser has been told.
doc-page = Page { $page } of { $pages }

ended-thanks = Thank you for your visit!
ended-agent-left = The adviser ended the call.
ended-failed = The call was interrupted.
ended-rate = How was your appointment?
rate-unhappy = Not good
rate-neutral = OK
rate-happy = Good
ended-rated = Thank you for your feedback.

oos-title = Kiosk temporarily unavailable
oos-hub = We are restoring the connection. Please wait a moment.
oos-camera = The camera is not working. The town hall staff have been told.
oos-sound = This kiosk's sound is not working: you would not hear your adviser. The town hall staff have been told.

# Help for residents who cannot read or need time (issue 23): the spoken
# prompts, the help bar, the warning before an automatic return. An id
# ending in -falc is its easy-read wording: short, one idea a line.
waiting-agent-free = An adviser is coming.
waiting-elapsed = You have been waiting { $minutes } min.
speech-services = The services: { $list }.
speech-controls = At the bottom of the screen: Listen, to hear it again; Louder; Softer.
speech-call = Speak normally. The adviser can see and hear you.
speech-waiting-callback = You can also be called back at this kiosk at another time: touch "Be called back instead".
speech-confirm = Touch "Yes, end it" or "No, continue".
speech-rate = Touch "Good", "OK" or "Not good".
speech-showing = The document has { $pages } pages.
speech-volume = Volume { $level } of 5.
return-warning = Without any action, the kiosk goes back to the start in { $seconds } seconds. Touch "I am still here" to stay.
return-warning-falc = Are you still here? Touch the big button "I am still here".
return-countdown = Back to the start in { $seconds } s
still-here = I am still here
assist-listen = Listen
assist-stop = Stop
assist-louder = Louder
assist-softer = Softer
assist-easy = Easy to read
assist-large = Large text
home-subtitle-falc = Touch a service. A person talks to you by video.
waiting-estimate-unknown-falc = Please wait. A person will answer you.
scan-place-falc = Put your paper on the scanner. Text facing down.
scan-place-feeder-falc = Put your paper on the scanner. Text facing down. Several pages? Put them in the feeder.
ended-rate-falc = Was the appointment good?

## Scan steps (the agent scans once the paper is down)
scan-wait-agent = The adviser will start the scan once the document is in place.
scan-pages-done = { $pages ->
    [one] One page is scanned.
   *[other] { $pages } pages are scanned.
}
scan-place-next = If the adviser asks, place the next page face down.
scan-page-scanning = Scanning page { $page }…
scan-keep-still = Please do not touch the document while it is scanned.
scan-consent-question = Here is page { $page }. Do you agree to send it to the adviser?
scan-consent-yes = Yes, send it
scan-consent-no = No, do not send it

# A document the agent shows and drives (also the text the kiosk speaks).
doc-shown = Your adviser is showing you a document. You do not need to touch anything.

# The receipt printed at the end of a call when the service asks for one
# (plain text laid out by the printer; no document content).
receipt-title = Receipt of your appointment
receipt-site-date = { $site }, { $date }
receipt-call = { $service } with { $agent }, at { $time }
receipt-line = { $time }  { $outcome }: { $name }
receipt-sent = Sent to the adviser
receipt-printed = Printed
receipt-shown = Shown on the screen
receipt-signed = Signed
receipt-not-signed = Not signed
receipt-failed = Did not go through
receipt-unnamed = a document
receipt-none = No documents exchanged.
receipt-footer = This receipt gives only the documents' names. Nothing of your appointment is kept on the kiosk.

# Signing at the kiosk (also the text the kiosk speaks).
sign-instruction = Sign with your finger inside the blue frame.
sign-or-refuse = Touch "Confirm my signature" when you are done, or "I will not sign".
sign-here = Sign here
sign-clear = Clear
sign-done = Confirm my signature
sign-refuse = I will not sign
sign-sending = Your signature is being added to the document and sent to the adviser…
sign-sent = Document signed and sent to the adviser.
sign-refused = You did not sign. The adviser has been told.
sign-instruction-falc = Sign with your finger. Inside the blue frame.
sign-or-refuse-falc = Finished? Touch "Confirm my signature". You do not want to sign? Touch "I will not sign".
sign-sending-falc = Please wait. Your signature is going to the adviser.
sign-sent-falc = Done. The adviser has the signed document.
sign-refused-falc = You did not sign. The adviser knows.

# The call for the host ("Call the front desk", in the help bar).
host-call = Call the front desk
host-asked = Request sent…
host-asked-falc = Request sent. Please wait here.
host-pending = Request waiting: the kiosk is not connected to the server.
host-coming = Someone from the front desk is coming
host-cancel = Cancel the request for help

# Being called back at this kiosk (a closed service, a long wait; also
# the text the kiosk speaks).
waiting-callback = Be called back instead
callback-title = Be called back by an adviser
callback-offer = A { $service } adviser can call you back at this kiosk, at a time you choose.
callback-long-wait = The wait is long. A { $service } adviser can call you back at this kiosk, at a time you choose. You keep your place until you have chosen.
callback-ask = Be called back
callback-back-home = Back to the start
callback-back-line = Back to the queue
callback-asking = Looking for free times…
callback-choose = Touch the time that suits you. The call lasts { $minutes } minutes.
callback-retaken = That time has just been taken. Please choose another.
callback-no-slots = No time is free this week for { $service }. Please come back during opening hours.
callback-unavailable = A callback is not possible at the moment. Please come back during opening hours.
callback-booking = Booking your callback { $when }…
callback-booked-title = It is booked!
callback-booked = A { $service } adviser will call you back at this kiosk { $when }.
callback-booked-come = Be at this kiosk at that time and touch "{ $service }": you will go first.
callback-reference = Your reference: { $reference }
callback-slip = A slip is printing: take it from the printer.
callback-done = Done

# The slip printed when a callback is booked (nothing personal on it).
slip-title = Your callback
slip-service = Service: { $service }
slip-when = { $date } at { $time } ({ $minutes } minutes)
slip-reference = Reference: { $reference }
slip-site = Kiosk: { $site }
slip-how = Be at this kiosk at that time and touch "{ $short }": an adviser will answer you first.
slip-footer = This slip carries no personal information.
