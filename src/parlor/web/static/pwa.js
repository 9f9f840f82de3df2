// Installable app: register the service worker (/sw.js, scope "/"). It caches the
// app shell only; see sw.js. Nothing here is needed for the app to work.
if ('serviceWorker' in navigator) {
  window.addEventListener('load', () => {
    navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch((err) => {
      console.warn('service worker not registered:', err);
    });
  });
}
