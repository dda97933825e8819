/*
 * For `make lint` on other systems: what OpenBSD's <unistd.h> declares
 * and glibc does not, so the #ifdef __OpenBSD__ branches can be compiled
 * for syntax and types (-fsyntax-only) where OpenBSD is not at hand.
 */
int	pledge(const char *, const char *);
int	unveil(const char *, const char *);
void	setproctitle(const char *, ...);
