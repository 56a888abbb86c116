"""Free-mail and consumer e-mail domains.

A lead with one of these domains is a person, not evidence of a company: it is
never linked to an account by its e-mail domain.
"""

FREEMAIL_DOMAINS: frozenset[str] = frozenset(
    """
    gmail.com googlemail.com yahoo.com yahoo.co.uk yahoo.fr yahoo.de yahoo.es
    yahoo.it yahoo.ca yahoo.com.au yahoo.co.jp yahoo.co.in ymail.com rocketmail.com
    hotmail.com hotmail.co.uk hotmail.fr hotmail.de hotmail.es hotmail.it outlook.com
    outlook.fr outlook.de live.com live.co.uk live.fr msn.com passport.com
    aol.com aim.com icloud.com me.com mac.com proton.me protonmail.com pm.me
    gmx.com gmx.de gmx.net gmx.at gmx.ch web.de t-online.de freenet.de mail.com
    email.com zoho.com zohomail.com yandex.com yandex.ru mail.ru inbox.ru list.ru
    bk.ru rambler.ru qq.com 163.com 126.com sina.com sohu.com yeah.net naver.com
    daum.net hanmail.net laposte.net orange.fr wanadoo.fr free.fr sfr.fr libero.it
    virgilio.it tiscali.it alice.it seznam.cz wp.pl o2.pl interia.pl onet.pl
    btinternet.com sky.com virginmedia.com ntlworld.com talktalk.net comcast.net
    verizon.net att.net sbcglobal.net bellsouth.net cox.net charter.net
    earthlink.net optonline.net shaw.ca rogers.com sympatico.ca bigpond.com
    optusnet.com.au rediffmail.com fastmail.com fastmail.fm hushmail.com tutanota.com
    tuta.io mailinator.com guerrillamail.com yopmail.com
    """.split()  # noqa: SIM905 - one readable block of domains
)


def is_freemail(domain: str) -> bool:
    return domain.lower() in FREEMAIL_DOMAINS
