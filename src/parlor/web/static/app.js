// Entry point: routes → views.
import { route, start } from './router.js';
import { hallwayView } from './views/hallway.js';
import { setupView, signupView, loginView } from './views/auth.js';
import { roomView } from './views/room.js';
import { contactsView } from './views/contacts.js';
import { inviteLinkView, invitesView, waitlistView } from './views/growth.js';

route(/^\/$/, hallwayView);
route(/^\/setup$/, setupView);
route(/^\/signup$/, signupView);
route(/^\/login$/, loginView);
route(/^\/rooms\/(?<id>[^/]+)$/, roomView);
// guests: /r/:name (views/guest.js)
import { guestRoomView } from './views/guest.js';
route(/^\/r\/(?<name>[^/]+)$/, guestRoomView);
// growth: /invite/:code, /waitlist, /invites
route(/^\/invite\/(?<code>[^/]+)$/, inviteLinkView);
route(/^\/waitlist$/, waitlistView);
route(/^\/invites$/, invitesView);
// profiles and your data: /people/:username, /settings
import { profileView } from './views/profile.js';
import { settingsView } from './views/settings.js';
route(/^\/people\/(?<username>[^/]+)$/, profileView);
route(/^\/settings$/, settingsView);
// account safety: /settings/security
import { securityView } from './views/security.js';
route(/^\/settings\/security$/, securityView);
// contacts: /contacts
route(/^\/contacts$/, contactsView);
// notifications: /inbox
import { inboxView, mountBell } from './views/inbox.js';
route(/^\/inbox$/, inboxView);
mountBell();
// people: /search, /people/:username/followers, /people/:username/following
import { searchView, mountSearchLink } from './views/search.js';
import { followersView, followingView } from './views/people.js';
route(/^\/search$/, searchView);
route(/^\/people\/(?<username>[^/]+)\/followers$/, followersView);
route(/^\/people\/(?<username>[^/]+)\/following$/, followingView);
mountSearchLink();
// the admin console: /admin, /admin/:section, /admin/people/:id
import { adminView, mountAdminLink } from './views/admin.js';
import { adminPersonView } from './views/admin_person.js';
route(/^\/admin$/, adminView);
route(/^\/admin\/people\/(?<id>[^/]+)$/, adminPersonView);
route(/^\/admin\/(?<section>[^/]+)$/, adminView);
mountAdminLink();
// events: /events/new (the schedule form), /events/:id
import { eventView, newEventView } from './views/event.js';
route(/^\/events\/new$/, newEventView);
route(/^\/events\/(?<id>[^/]+)$/, eventView);

// clubs: /clubs, /clubs/:id
import { clubsView } from './views/clubs.js';
import { clubView } from './views/club.js';
route(/^\/clubs$/, clubsView);
route(/^\/clubs\/(?<id>[^/]+)$/, clubView);

// privacy: /privacy (what the server can and cannot see; linked from an encrypted room's lock)
import { privacyView } from './views/privacy.js';
route(/^\/privacy$/, privacyView);

start(document.getElementById('main'));
