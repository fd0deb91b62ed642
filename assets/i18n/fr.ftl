# Visio-Public kiosk — French (default). Short sentences, plain words:
# many residents read with difficulty.

starting = Démarrage de la borne…

home-title = Bonjour !
home-subtitle = Touchez le service que vous voulez joindre. Un conseiller vous répondra en vidéo.
language-switch = English
service-open = Ouvert jusqu'à { $time }
service-open-late = Ouvert
service-opens-today = Ouvre à { $time }
service-closed = Fermé
service-closed-opens = Ouvre { $when }
when-today = aujourd'hui à { $time }
when-tomorrow = demain à { $time }
when-day = { $weekday } à { $time }
weekday-1 = lundi
weekday-2 = mardi
weekday-3 = mercredi
weekday-4 = jeudi
weekday-5 = vendredi
weekday-6 = samedi
weekday-7 = dimanche
notice-closed = { $service } est fermé en ce moment. Ouverture { $when }.
notice-closed-unknown = { $service } est fermé en ce moment.
notice-busy = Un appel est déjà en cours sur cette borne.
notice-unknown = Ce service n'est pas disponible sur cette borne.

requesting = Nous appelons le service { $service }…

waiting-title = Un conseiller { $service } va vous répondre
waiting-position = { $position ->
    [1] Vous êtes le prochain.
   *[other] Vous êtes { $position }e dans la file d'attente.
}
waiting-transferred = Votre demande est transmise au service { $service }, { $position ->
    [1] vous êtes le prochain.
   *[other] vous passez en priorité.
}
waiting-estimate = Attente estimée : environ { $minutes } minutes.
waiting-estimate-soon = Attente estimée : moins d'une minute.
waiting-estimate-unknown = Un conseiller vous répondra dès que possible.
waiting-cancel = Annuler
waiting-reconnecting = Connexion perdue, reconnexion… Vous gardez votre place.
presence-question = Êtes-vous toujours là ? Touchez l'écran pour garder votre place.

call-with = Vous parlez avec { $agent }
call-connecting = Connexion de la vidéo…
call-reconnecting = Connexion perdue, reconnexion…
call-you = Vous
call-end = Terminer l'appel
call-confirm = Voulez-vous vraiment terminer l'appel ?
call-confirm-yes = Oui, terminer
call-confirm-no = Non, continuer
scan-place = Posez votre document face vers le bas sur le scanner.
scan-place-feeder = Posez votre document face vers le bas sur la vitre du scanner, ou toutes vos pages dans son chargeur.
scan-progress = Numérisation en cours… { $percent } %
scan-waiting = Numérisation en cours…
scan-sent = Document envoyé au conseiller.
print-printing = Impression en cours… Prenez votre document dans l'imprimante.
print-done = Prenez votre document dans l'imprimante.
doc-failed = Le document n'a pas pu être traité. Le conseiller est prévenu.
doc-page = Page { $page } sur { $pages }

ended-thanks = Merci de votre visite !
ended-agent-left = Le conseiller a terminé l'appel.
ended-failed = L'appel a été interrompu.
ended-rate = Comment s'est passé votre rendez-vous ?
rate-unhappy = Pas bien
rate-neutral = Moyen
rate-happy = Bien
ended-rated = Merci pour votre avis.

oos-title = Borne momentanément indisponible
oos-hub = Nous rétablissons la connexion. Merci de patienter quelques instants.
oos-camera = La caméra ne fonctionne pas. Le personnel de la mairie est prévenu.
oos-sound = Le son de cette borne ne fonctionne pas : vous n'entendriez pas votre conseiller. Le personnel de la mairie est prévenu.

# Help for residents who cannot read or need time (issue 23): the spoken
# prompts, the help bar, the warning before an automatic return. An id
# ending in -falc is its easy-read (FALC) wording: short, one idea a line.
waiting-agent-free = Un conseiller arrive.
waiting-elapsed = Vous attendez depuis { $minutes } min.
speech-services = Les services : { $list }.
speech-controls = En bas de l'écran : Écouter, pour entendre à nouveau ; Plus fort ; Moins fort.
speech-call = Parlez normalement. Le conseiller vous voit et vous entend.
speech-waiting-callback = Vous pouvez aussi être rappelé à cette borne à un autre moment : touchez « Être rappelé plutôt ».
speech-confirm = Touchez « Oui, terminer » ou « Non, continuer ».
speech-rate = Touchez « Bien », « Moyen » ou « Pas bien ».
speech-showing = Le document a { $pages } pages.
speech-volume = Volume { $level } sur 5.
return-warning = Sans action de votre part, la borne revient à l'accueil dans { $seconds } secondes. Touchez « Je suis encore là » pour rester.
return-warning-falc = Êtes-vous encore là ? Touchez le grand bouton « Je suis encore là ».
return-countdown = Retour à l'accueil dans { $seconds } s
still-here = Je suis encore là
assist-listen = Écouter
assist-stop = Stop
assist-louder = Plus fort
assist-softer = Moins fort
assist-easy = Facile à lire
assist-large = Grand texte
home-subtitle-falc = Touchez un service. Une personne vous parle en vidéo.
waiting-estimate-unknown-falc = Attendez. Une personne va vous répondre.
scan-place-falc = Mettez votre papier sur le scanner. Le texte en bas.
scan-place-feeder-falc = Mettez votre papier sur le scanner. Le texte en bas. Plusieurs pages ? Mettez-les dans le chargeur.
ended-rate-falc = Le rendez-vous était bien ?

## Scan steps (the agent scans once the paper is down)
scan-wait-agent = Le conseiller lancera la numérisation quand le document sera en place.
scan-pages-done = { $pages ->
    [one] Une page est numérisée.
   *[other] { $pages } pages sont numérisées.
}
scan-place-next = Si le conseiller vous le demande, posez la page suivante face vers le bas.
scan-page-scanning = Numérisation de la page { $page }…
scan-keep-still = Ne touchez pas le document pendant la numérisation.
scan-consent-question = Voici la page { $page }. Acceptez-vous de l'envoyer au conseiller ?
scan-consent-yes = Oui, envoyer
scan-consent-no = Non, ne pas envoyer

# A document the agent shows and drives (also the text the kiosk speaks).
doc-shown = Votre conseiller vous montre un document. Vous n'avez rien à toucher.

# The receipt printed at the end of a call when the service asks for one
# (plain text laid out by the printer; no document content).
receipt-title = Reçu de votre rendez-vous
receipt-site-date = { $site }, le { $date }
receipt-call = { $service } avec { $agent }, à { $time }
receipt-line = { $time }  { $outcome } : { $name }
receipt-sent = Envoyé au conseiller
receipt-printed = Imprimé
receipt-shown = Montré à l'écran
receipt-signed = Signé
receipt-not-signed = Non signé
receipt-failed = Non abouti
receipt-unnamed = un document
receipt-none = Aucun document échangé.
receipt-footer = Ce reçu ne donne que le nom des documents. Rien de votre rendez-vous n'est gardé sur la borne.

# Signing at the kiosk (also the text the kiosk speaks).
sign-instruction = Signez avec votre doigt dans le cadre bleu.
sign-or-refuse = Touchez « Valider ma signature » quand vous avez fini, ou « Je ne signe pas ».
sign-here = Signez ici
sign-clear = Effacer
sign-done = Valider ma signature
sign-refuse = Je ne signe pas
sign-sending = Votre signature est ajoutée au document et envoyée au conseiller…
sign-sent = Document signé et envoyé au conseiller.
sign-refused = Vous n'avez pas signé. Le conseiller est prévenu.
sign-instruction-falc = Signez avec votre doigt. Dans le cadre bleu.
sign-or-refuse-falc = Vous avez fini ? Touchez « Valider ma signature ». Vous ne voulez pas signer ? Touchez « Je ne signe pas ».
sign-sending-falc = Attendez. Votre signature part chez le conseiller.
sign-sent-falc = C'est fait. Le conseiller a le document signé.
sign-refused-falc = Vous n'avez pas signé. Le conseiller le sait.

# The call for the host ("Appeler l'accueil", in the help bar).
host-call = Appeler l'accueil
host-asked = Demande envoyée…
host-asked-falc = Demande envoyée. Attendez ici.
host-pending = Demande en attente : la borne n'est pas reliée au serveur.
host-coming = Quelqu'un de l'accueil arrive
host-cancel = Annuler la demande d'aide

# Being called back at this kiosk (a closed service, a long wait; also
# the text the kiosk speaks).
waiting-callback = Être rappelé plutôt
callback-title = Être rappelé par un conseiller
callback-offer = Un conseiller { $service } peut vous rappeler à cette borne, à l'heure que vous choisissez.
callback-long-wait = L'attente est longue. Un conseiller { $service } peut vous rappeler à cette borne, à l'heure que vous choisissez. Vous gardez votre place tant que vous n'avez pas choisi.
callback-ask = Être rappelé
callback-back-home = Retour à l'accueil
callback-back-line = Retour à la file d'attente
callback-asking = Recherche des horaires libres…
callback-choose = Touchez l'horaire qui vous convient. L'appel dure { $minutes } minutes.
callback-retaken = Cet horaire vient d'être pris. Choisissez-en un autre.
callback-no-slots = Aucun horaire n'est libre cette semaine pour { $service }. Revenez pendant les heures d'ouverture.
callback-unavailable = Le rappel n'est pas possible pour le moment. Revenez pendant les heures d'ouverture.
callback-booking = Réservation de votre rappel { $when }…
callback-booked-title = C'est noté !
callback-booked = Un conseiller { $service } vous rappellera à cette borne { $when }.
callback-booked-come = Soyez à cette borne à cette heure-là et touchez « { $service } » : vous passerez en priorité.
callback-reference = Votre référence : { $reference }
callback-slip = Un ticket s'imprime : prenez-le dans l'imprimante.
callback-done = Terminé

# The slip printed when a callback is booked (nothing personal on it).
slip-title = Votre rappel
slip-service = Service : { $service }
slip-when = Le { $date } à { $time } ({ $minutes } minutes)
slip-reference = Référence : { $reference }
slip-site = Borne : { $site }
slip-how = Soyez à cette borne à cette heure-là et touchez « { $short } » : un conseiller vous répondra en priorité.
slip-footer = Ce ticket ne porte aucune information personnelle.
