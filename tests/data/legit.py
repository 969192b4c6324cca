"""Legitimate seller messages in six languages: the false-positive suite.

Replies quoting angry buyers, "we reviewed your request", manufacturers' warranty lines,
delay notices, invoices with a PDF, custom-design proofs, partial refunds, delivery
scheduling, return questions and one neutral review request per language. Every one must be
delivered unchanged. Written for this suite; none is a public corpus message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mail import build

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"


@dataclass(frozen=True)
class Legit:
    id: str
    lang: str
    subject: str
    body: str
    reply: bool = True
    quote: str = ""  # the buyer's earlier message, quoted below the answer
    html: bool = False
    attachments: tuple[tuple[str, str, bytes], ...] = field(default=())


ATTRIBUTION = {
    "en": "On Mon, 4 Mar 2024 at 09:12, Jo Webb wrote:",
    "de": "Am Mo., 4. März 2024 um 09:12 Uhr schrieb Karin Roth:",
    "nl": "Op ma 4 mrt 2024 om 09:12 schreef Henk Peters:",
    "fr": "Le lun. 4 mars 2024 à 09:12, Anne Leroy a écrit :",
    "es": "El lun, 4 mar 2024 a las 9:12, Ana López escribió:",
    "it": "Il giorno lun 4 mar 2024 alle ore 09:12 Paolo Sala ha scritto:",
}

LEGIT: list[Legit] = [
    # ------------------------------------------------------------ English
    Legit(
        "en-angry-quote",
        "en",
        "Re: Broken lamp",
        "Hi Jo,\n\nI'm sorry the lamp arrived broken. A replacement leaves our workshop tomorrow,\n"
        "and you can keep or recycle the damaged one.\n\nBest regards\nRosie",
        quote="This is bullshit, the lamp is smashed. You are scammers and I will leave a 1-star review!",
    ),
    Legit(
        "en-reviewed-request",
        "en",
        "Re: Return request",
        "Hello Sam,\n\nwe reviewed your request and approved the return. Amazon will send you the\n"
        "return label by e-mail.\n\nKind regards\nRosie",
    ),
    Legit(
        "en-warranty-hotline",
        "en",
        "Re: Kettle leaking",
        "Hi Tim,\n\nafter the return window the manufacturer handles warranty claims. Their\n"
        "warranty line is 020 7946 0321 (Monday to Friday).\n\nBest wishes\nRosie",
    ),
    Legit(
        "en-delay",
        "en",
        "Delay to your order 203-1234567-7654321",
        "Hello,\n\nunfortunately your desk (order 203-1234567-7654321) will ship about five days later\n"
        "than planned because the oak tops are still drying. You may cancel at no cost in Your Orders.\n\n"
        "Apologies\nRosie",
        reply=False,
    ),
    Legit(
        "en-invoice",
        "en",
        "Invoice for order 204-2345678-8765432",
        "Hello,\n\nplease find attached the VAT invoice for your order 204-2345678-8765432.\n\nRosie",
        reply=False,
        attachments=(("invoice-204.pdf", "application/pdf", PDF),),
    ),
    Legit(
        "en-proof",
        "en",
        "Engraving proof for order 205-3456789-9876543",
        "Hello,\n\nthe engraving proof for order 205-3456789-9876543 is ready:\n"
        "https://design.casa-verde.example/proofs/P-4411\nDoes the spelling look right to you?\n\nMarco",
        reply=False,
    ),
    Legit(
        "en-partial-refund",
        "en",
        "Your return - order 206-4567890-1987654",
        "Hello,\n\nabout the return of order 206-4567890-1987654: would you rather keep the cushion\n"
        "for a partial refund of 8 pounds?\n\nRosie",
        reply=False,
    ),
    Legit(
        "en-review-request",
        "en",
        "Order 207-5678901-2098765: how is the throw?",
        "Hello,\n\nyour wool throw (order 207-5678901-2098765) arrived last week. If you have a moment,\n"
        "would you share your experience in a review on Amazon? It helps other customers decide.\n\n"
        "Kind regards\nRosie",
        reply=False,
    ),
    Legit(
        "en-schedule",
        "en",
        "Delivery of your wardrobe - order 208-6789012-3109876",
        "Hello,\n\nour carrier can bring the wardrobe from order 208-6789012-3109876 on Tuesday or\n"
        "Thursday morning. Which day suits you?\n\nRosie",
        reply=False,
    ),
    Legit(
        "en-html-reply",
        "en",
        "Re: Washing the cover",
        '<div dir="ltr"><div>Hi Anna,</div><div><br></div><div>The cover can be washed at 30 degrees;\n'
        "please close the zip first.</div><div><br></div><div>Best regards</div><div>Rosie</div></div>",
        html=True,
        quote="Can I wash the cover? It smells awful, damn cat.",
    ),
    Legit(
        "en-amazon-link",
        "en",
        "Re: Returning the rug",
        "Hi Lee,\n\nyou can start the return in the Returns Centre: https://www.amazon.co.uk/returns\n\n"
        "Best regards\nRosie",
    ),
    Legit(
        "en-review-word",
        "en",
        "Re: Size question",
        "Hi Kim,\n\nour team will review the measurements and get back to you tomorrow. The listed\n"
        "size is 45 x 45 cm including the seam.\n\nBest regards\nRosie",
    ),
    # ------------------------------------------------------------ German
    Legit(
        "de-angry-quote",
        "de",
        "AW: Falsche Farbe",
        "Hallo Frau Roth,\n\ndas tut uns leid. Wir schicken Ihnen heute die Decke in Anthrazit.\n\n"
        "Viele Grüße\nLukas Brandl",
        quote="So ein Mist, schon wieder falsch. Ihr Betrüger, ich gebe euch einen Stern!",
    ),
    Legit(
        "de-geprueft",
        "de",
        "AW: Rücksendung",
        "Guten Tag Herr Kaiser,\n\nwir haben Ihre Anfrage geprüft und die Rücksendung genehmigt.\n"
        "Das Etikett erhalten Sie von Amazon.\n\nFreundliche Grüße\nLukas Brandl",
    ),
    Legit(
        "de-garantie",
        "de",
        "AW: Wasserkocher defekt",
        "Hallo Herr Wolf,\n\nnach Ablauf der Rückgabefrist hilft Ihnen der Hersteller im Rahmen der Garantie:\n"
        "Kundendienst Kochwerk, Telefon 030 1234 5678.\n\nViele Grüße\nLukas Brandl",
    ),
    Legit(
        "de-verzoegerung",
        "de",
        "Lieferverzögerung Bestellung 302-1111111-2222222",
        "Guten Tag,\n\nleider verzögert sich der Versand Ihres Regals aus Bestellung 302-1111111-2222222\n"
        "um eine Woche, weil ein Zulieferer später liefert. Sie können jederzeit kostenlos stornieren.\n\n"
        "Mit freundlichen Grüßen\nLukas Brandl",
        reply=False,
    ),
    Legit(
        "de-rechnung",
        "de",
        "Rechnung zu Bestellung 302-2222222-3333333",
        "Guten Tag,\n\nanbei erhalten Sie die Rechnung zu Ihrer Bestellung 302-2222222-3333333.\n\n"
        "Mit freundlichen Grüßen\nLukas Brandl",
        reply=False,
        attachments=(("Rechnung-302.pdf", "application/pdf", PDF),),
    ),
    Legit(
        "de-gravur",
        "de",
        "Gravurvorschau Bestellung 302-3333333-4444444",
        "Guten Tag,\n\ndie Vorschau der Gravur für Bestellung 302-3333333-4444444 finden Sie hier:\n"
        "https://design.casa-verde.example/proofs/G-1200\nStimmt der Name so?\n\nViele Grüße\nMarco",
        reply=False,
    ),
    Legit(
        "de-teilerstattung",
        "de",
        "Ihre Rücksendung - Bestellung 302-4444444-5555555",
        "Guten Tag,\n\nzu Ihrer Rücksendung aus Bestellung 302-4444444-5555555: Möchten Sie die Lampe\n"
        "lieber behalten und dafür eine Teilerstattung von 12 Euro erhalten?\n\nViele Grüße\nLukas",
        reply=False,
    ),
    Legit(
        "de-bewertung-neutral",
        "de",
        "Bestellung 302-5555555-6666666: Ihre Meinung",
        "Guten Tag,\n\nIhre Teekanne aus Bestellung 302-5555555-6666666 ist angekommen. Wenn Sie einen\n"
        "Moment Zeit haben, teilen Sie Ihre Erfahrung gern in einer Bewertung auf Amazon.\n\n"
        "Viele Grüße\nLukas Brandl",
        reply=False,
    ),
    Legit(
        "de-termin",
        "de",
        "Lieferung Ihres Schranks - Bestellung 302-6666666-7777777",
        "Guten Tag,\n\nunsere Spedition kann den Schrank aus Bestellung 302-6666666-7777777 am Montag\n"
        "oder Mittwoch liefern. Welcher Tag passt Ihnen?\n\nViele Grüße\nLukas Brandl",
        reply=False,
    ),
    Legit(
        "de-html-outlook",
        "de",
        "AW: Pflege",
        '<p class="MsoNormal">Hallo Frau Haas,<o:p></o:p></p><p class="MsoNormal"><o:p>&nbsp;</o:p></p>'
        '<p class="MsoNormal">das Leinen waschen Sie am besten bei 40 Grad.<o:p></o:p></p>'
        '<p class="MsoNormal"><o:p>&nbsp;</o:p></p><p class="MsoNormal">Viele Grüße<o:p></o:p></p>',
        html=True,
    ),
    Legit(
        "de-bewertung-sinn",
        "de",
        "AW: Schaden",
        "Hallo Herr Berg,\n\ndie Bewertung des Transportschadens durch den Paketdienst dauert etwa\n"
        "drei Tage. Danach erstatten wir Ihnen den Betrag über Amazon.\n\nViele Grüße\nLukas",
    ),
    # ------------------------------------------------------------ Dutch
    Legit(
        "nl-boze-quote",
        "nl",
        "Re: Kapotte vaas",
        "Beste Henk,\n\nvervelend dat de vaas kapot aankwam. We sturen vandaag een nieuwe.\n\nGroet,\nDaan",
        quote="Wat een kutservice, klootzakken. Ik geef jullie een slechte review!",
    ),
    Legit(
        "nl-beoordeeld",
        "nl",
        "Re: Retour",
        "Hallo Lisa,\n\nwe hebben je verzoek bekeken en de retour goedgekeurd. Het label komt via Amazon.\n\n"
        "Groet,\nDaan Mulder",
    ),
    Legit(
        "nl-garantie",
        "nl",
        "Re: Waterkoker",
        "Hallo Tim,\n\nvoor garantie na de retourtermijn kun je terecht bij de fabrikant Kookwerk,\n"
        "telefonisch bereikbaar op 030 711 2040.\n\nGroet,\nDaan",
    ),
    Legit(
        "nl-vertraging",
        "nl",
        "Vertraging bestelling 402-1111111-2222222",
        "Beste klant,\n\nhelaas wordt je bestelling 402-1111111-2222222 een week later verzonden omdat\n"
        "een onderdeel ontbreekt. Annuleren kan kosteloos via je Amazon-account.\n\nGroet,\nDaan",
        reply=False,
    ),
    Legit(
        "nl-factuur",
        "nl",
        "Factuur bestelling 402-2222222-3333333",
        "Beste klant,\n\nhierbij ontvangt u de factuur voor uw bestelling 402-2222222-3333333.\n\n"
        "Met vriendelijke groet\nDaan Mulder",
        reply=False,
        attachments=(("Factuur-402.pdf", "application/pdf", PDF),),
    ),
    Legit(
        "nl-ontwerp",
        "nl",
        "Proefontwerp bestelling 402-3333333-4444444",
        "Hallo,\n\nhet proefontwerp voor bestelling 402-3333333-4444444 staat klaar:\n"
        "https://design.casa-verde.example/proofs/N-88\nKlopt de tekst?\n\nGroet,\nFleur",
        reply=False,
    ),
    Legit(
        "nl-deelterugbetaling",
        "nl",
        "Je retour - bestelling 402-4444444-5555555",
        "Hallo,\n\nover de retour van bestelling 402-4444444-5555555: wil je de lamp houden tegen een\n"
        "gedeeltelijke terugbetaling van 10 euro?\n\nGroet,\nDaan",
        reply=False,
    ),
    Legit(
        "nl-review-neutraal",
        "nl",
        "Bestelling 402-5555555-6666666: jouw ervaring",
        "Hallo,\n\nje dienblad uit bestelling 402-5555555-6666666 is bezorgd. Wil je je ervaring delen\n"
        "in een review op Amazon? Dat helpt andere klanten.\n\nGroet,\nDaan",
        reply=False,
    ),
    Legit(
        "nl-afspraak",
        "nl",
        "Levering kast - bestelling 402-6666666-7777777",
        "Beste klant,\n\nde vervoerder kan de kast uit bestelling 402-6666666-7777777 op dinsdag of\n"
        "donderdag brengen. Welke dag past jou?\n\nGroet,\nDaan",
        reply=False,
    ),
    Legit(
        "nl-mist",
        "nl",
        "Re: Onderdeel",
        "Hallo Bram,\n\nin je pakket mist inderdaad een schroef. We sturen hem vandaag na.\n\nGroet,\nDaan",
    ),
    Legit(
        "nl-html",
        "nl",
        "Re: Maat",
        "<div>Hoi Eva,</div><div><br></div><div>Het dienblad is 45 x 30 cm.</div><div><br></div>"
        "<div>Groet,</div><div>Daan</div>",
        html=True,
    ),
    # ------------------------------------------------------------ French
    Legit(
        "fr-citation-colere",
        "fr",
        "Re: Colis abîmé",
        "Bonjour Anne,\n\nnous sommes désolés. Une nouvelle lampe part demain.\n\nCordialement,\nInès",
        quote="C'est de la merde, bande d'escrocs ! Je vais laisser un avis négatif.",
    ),
    Legit(
        "fr-a-notre-avis",
        "fr",
        "Re: Quelle taille ?",
        "Bonjour Paul,\n\nà notre avis, le modèle 60 x 60 cm convient mieux à votre canapé.\n\n"
        "Cordialement,\nInès",
    ),
    Legit(
        "fr-garantie",
        "fr",
        "Re: Bouilloire",
        "Bonjour,\n\npour la garantie après le délai de retour, le fabricant répond au 01 42 68 53 00.\n\n"
        "Cordialement,\nInès",
    ),
    Legit(
        "fr-retard",
        "fr",
        "Retard commande 171-1111111-2222222",
        "Bonjour,\n\nmalheureusement, la commande 171-1111111-2222222 partira avec une semaine de retard.\n"
        "Vous pouvez l'annuler sans frais depuis votre compte Amazon.\n\nCordialement,\nInès",
        reply=False,
    ),
    Legit(
        "fr-facture",
        "fr",
        "Facture commande 171-2222222-3333333",
        "Bonjour,\n\nveuillez trouver ci-joint la facture de votre commande 171-2222222-3333333.\n\n"
        "Cordialement,\nInès",
        reply=False,
        attachments=(("facture-171.pdf", "application/pdf", PDF),),
    ),
    Legit(
        "fr-bat",
        "fr",
        "Maquette de gravure - commande 171-3333333-4444444",
        "Bonjour,\n\nla maquette de gravure pour la commande 171-3333333-4444444 est en ligne :\n"
        "https://design.casa-verde.example/proofs/F-17\nL'orthographe vous convient-elle ?\n\nMarco",
        reply=False,
    ),
    Legit(
        "fr-remboursement-partiel",
        "fr",
        "Votre retour - commande 171-4444444-5555555",
        "Bonjour,\n\nau sujet du retour de la commande 171-4444444-5555555 : souhaitez-vous garder\n"
        "le plaid contre un remboursement partiel de 10 € ?\n\nCordialement,\nInès",
        reply=False,
    ),
    Legit(
        "fr-avis-neutre",
        "fr",
        "Commande 171-5555555-6666666 : votre expérience",
        "Bonjour,\n\nvotre tapis (commande 171-5555555-6666666) a été livré. Si vous avez un instant,\n"
        "vous pouvez partager votre expérience dans un avis sur Amazon.\n\nCordialement,\nInès",
        reply=False,
    ),
    Legit(
        "fr-creneau",
        "fr",
        "Livraison de votre armoire - commande 171-6666666-7777777",
        "Bonjour,\n\nnotre transporteur propose lundi ou mercredi matin pour la commande\n"
        "171-6666666-7777777. Quelle date vous convient ?\n\nCordialement,\nInès",
        reply=False,
    ),
    Legit(
        "fr-avis-de-passage",
        "fr",
        "Re: Colis non reçu",
        "Bonjour Marc,\n\nle transporteur a laissé un avis de passage ; le colis vous attend au relais.\n\n"
        "Cordialement,\nInès",
    ),
    Legit(
        "fr-html",
        "fr",
        "Re: Entretien",
        "<p>Bonjour Rémi,</p><p>Le tapis se nettoie à sec uniquement.</p><p>Cordialement,<br>Inès</p>",
        html=True,
    ),
    # ------------------------------------------------------------ Spanish
    Legit(
        "es-cita-enfadada",
        "es",
        "Re: Jarrón roto",
        "Hola, Ana:\n\nlo sentimos mucho. Hoy te enviamos un jarrón nuevo.\n\nSaludos,\nPilar",
        quote="¡Qué mierda de servicio, estafadores! Voy a dejar una reseña de una estrella.",
    ),
    Legit(
        "es-revisado",
        "es",
        "Re: Devolución",
        "Hola, Luis:\n\nhemos revisado tu solicitud y aprobado la devolución. La etiqueta te llegará\n"
        "de Amazon.\n\nSaludos,\nPilar",
    ),
    Legit(
        "es-garantia",
        "es",
        "Re: Hervidor",
        "Hola:\n\npara la garantía fuera del plazo de devolución, el fabricante atiende en el\n"
        "912 345 678.\n\nSaludos,\nPilar",
    ),
    Legit(
        "es-retraso",
        "es",
        "Retraso del pedido 405-1111111-2222222",
        "Hola:\n\nlamentablemente, el envío del pedido 405-1111111-2222222 se retrasará una semana.\n"
        "Puedes cancelarlo sin coste desde tu cuenta de Amazon.\n\nSaludos,\nPilar",
        reply=False,
    ),
    Legit(
        "es-factura",
        "es",
        "Factura del pedido 405-2222222-3333333",
        "Hola:\n\nadjuntamos la factura de tu pedido 405-2222222-3333333.\n\nSaludos,\nPilar",
        reply=False,
        attachments=(("factura-405.pdf", "application/pdf", PDF),),
    ),
    Legit(
        "es-boceto",
        "es",
        "Boceto del grabado - pedido 405-3333333-4444444",
        "Hola:\n\nel boceto del grabado del pedido 405-3333333-4444444 está listo:\n"
        "https://design.casa-verde.example/proofs/E-9\n¿Está bien escrito el nombre?\n\nMarco",
        reply=False,
    ),
    Legit(
        "es-reembolso-parcial",
        "es",
        "Tu devolución - pedido 405-4444444-5555555",
        "Hola:\n\nsobre la devolución del pedido 405-4444444-5555555: ¿prefieres quedarte la manta\n"
        "con un reembolso parcial de 10 euros?\n\nSaludos,\nPilar",
        reply=False,
    ),
    Legit(
        "es-resena-neutra",
        "es",
        "Pedido 405-5555555-6666666: tu opinión",
        "Hola:\n\ntu cesta del pedido 405-5555555-6666666 ya ha llegado. Si tienes un momento, puedes\n"
        "contar tu experiencia en una reseña en Amazon.\n\nSaludos,\nPilar",
        reply=False,
    ),
    Legit(
        "es-cita",
        "es",
        "Entrega del armario - pedido 405-6666666-7777777",
        "Hola:\n\nel transportista puede entregar el armario del pedido 405-6666666-7777777 el lunes\n"
        "o el jueves. ¿Qué día te viene mejor?\n\nSaludos,\nPilar",
        reply=False,
    ),
    Legit(
        "es-opinion",
        "es",
        "Re: Qué tamaño",
        "Hola, Eva:\n\nen nuestra opinión, la alfombra de 160 x 230 cm queda mejor en tu salón.\n\n"
        "Saludos,\nPilar",
    ),
    Legit(
        "es-html",
        "es",
        "Re: Material",
        "<p>Hola:</p><p>La mesa es de madera maciza de acacia.</p><p>Saludos,<br>Pilar</p>",
        html=True,
    ),
    # ------------------------------------------------------------ Italian
    Legit(
        "it-citazione-arrabbiata",
        "it",
        "Re: Teiera rotta",
        "Ciao Paolo,\n\nci dispiace: ti spediamo subito una teiera nuova.\n\nUn saluto,\nSara",
        quote="Che schifo, siete dei truffatori del cazzo. Lascio una recensione negativa!",
    ),
    Legit(
        "it-verificato",
        "it",
        "Re: Reso",
        "Ciao Luca,\n\nabbiamo verificato la tua richiesta e approvato il reso. L'etichetta arriverà\n"
        "da Amazon.\n\nUn saluto,\nSara",
    ),
    Legit(
        "it-garanzia",
        "it",
        "Re: Bollitore",
        "Ciao,\n\nper la garanzia dopo il periodo di reso puoi rivolgerti al produttore al 02 1234 5678.\n\n"
        "Un saluto,\nSara",
    ),
    Legit(
        "it-ritardo",
        "it",
        "Ritardo ordine 406-1111111-2222222",
        "Ciao,\n\npurtroppo la spedizione dell'ordine 406-1111111-2222222 subirà un ritardo di una\n"
        "settimana. Puoi annullarlo gratuitamente dal tuo account Amazon.\n\nUn saluto,\nSara",
        reply=False,
    ),
    Legit(
        "it-fattura",
        "it",
        "Fattura ordine 406-2222222-3333333",
        "Ciao,\n\nin allegato la fattura del tuo ordine 406-2222222-3333333.\n\nUn saluto,\nSara",
        reply=False,
        attachments=(("fattura-406.pdf", "application/pdf", PDF),),
    ),
    Legit(
        "it-bozza",
        "it",
        "Bozza dell'incisione - ordine 406-3333333-4444444",
        "Ciao,\n\nla bozza dell'incisione per l'ordine 406-3333333-4444444 è pronta:\n"
        "https://design.casa-verde.example/proofs/I-31\nIl nome è scritto correttamente?\n\nMarco",
        reply=False,
    ),
    Legit(
        "it-rimborso-parziale",
        "it",
        "Il tuo reso - ordine 406-4444444-5555555",
        "Ciao,\n\nriguardo al reso dell'ordine 406-4444444-5555555: preferisci tenere la tovaglia con\n"
        "un rimborso parziale di 10 euro?\n\nUn saluto,\nSara",
        reply=False,
    ),
    Legit(
        "it-recensione-neutra",
        "it",
        "Ordine 406-5555555-6666666: la tua esperienza",
        "Ciao,\n\nla tua teiera dell'ordine 406-5555555-6666666 è stata consegnata. Se hai un momento,\n"
        "puoi raccontare la tua esperienza in una recensione su Amazon.\n\nUn saluto,\nSara",
        reply=False,
    ),
    Legit(
        "it-appuntamento",
        "it",
        "Consegna dell'armadio - ordine 406-6666666-7777777",
        "Ciao,\n\nil corriere può consegnare l'armadio dell'ordine 406-6666666-7777777 martedì o\n"
        "giovedì mattina. Quale giorno preferisci?\n\nUn saluto,\nSara",
        reply=False,
    ),
    Legit(
        "it-parere",
        "it",
        "Re: Che misura",
        "Ciao Irene,\n\na nostro parere la tovaglia da 140 x 240 cm è la più adatta al tuo tavolo.\n\n"
        "Un saluto,\nSara",
    ),
    Legit(
        "it-html",
        "it",
        "Re: Lavaggio",
        "<p>Ciao Irene,</p><p>la tovaglia si lava in lavatrice a 40 gradi.</p><p>Un saluto,<br>Sara</p>",
        html=True,
    ),
]


TLD = {"en": "co.uk", "de": "de", "nl": "nl", "fr": "fr", "es": "es", "it": "it"}


def recipient(case: Legit) -> str:
    return f"kc9o3rt5g88dt@marketplace.amazon.{TLD[case.lang]}"


def message(case: Legit) -> bytes:
    quote = ""
    if case.quote:
        quote = f"\n\n{ATTRIBUTION[case.lang]}\n" + "\n".join(
            f"> {ln}" for ln in case.quote.splitlines()
        )
    if case.html:
        plain = re.sub(r"<[^>]+>", "\n", case.body).replace("&nbsp;", " ")
        html = case.body
        if case.quote:
            html += (f'<div class="gmail_quote"><div class="gmail_attr">{ATTRIBUTION[case.lang]}</div>'
                     f'<blockquote class="gmail_quote">{case.quote}</blockquote></div>')  # fmt: skip
        return build(body=plain + quote, html=html, subject=case.subject, reply=case.reply,
                     to=recipient(case), attachments=list(case.attachments))  # fmt: skip
    return build(body=case.body + quote, subject=case.subject, reply=case.reply, to=recipient(case),
                 attachments=list(case.attachments))  # fmt: skip
