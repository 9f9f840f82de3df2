// Entry point: routes → views.
import { route, start } from './router.js';
import { hallwayView } from './views/hallway.js';
import { setupView, signupView, loginView } from './views/auth.js';
import { roomView } from './views/room.js';

route(/^\/$/, hallwayView);
route(/^\/setup$/, setupView);
route(/^\/signup$/, signupView);
route(/^\/login$/, loginView);
route(/^\/rooms\/(?<id>[^/]+)$/, roomView);
// growth: /invite/:code, /waitlist, /invites
// profiles and your data: /people/:username, /settings
// contacts: /contacts
// notifications: /inbox

start(document.getElementById('main'));
