/*
 * login_private - between login.c and login_proxy.c.
 */
#ifndef LOGIN_PRIVATE_H
#define LOGIN_PRIVATE_H

struct stream;

/* Proxies between a TLS client stream (taken over, with its callbacks
 * replaced) and session_fd, one end of the socketpair whose other end the
 * session service got, until either side closes. Counts as one client of
 * the process (server_client_done() at the end). */
void login_proxy_start(struct stream *client, int session_fd);

#endif
