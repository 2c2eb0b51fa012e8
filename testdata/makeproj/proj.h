#ifndef PROJ_H
#define PROJ_H
const char *greet(const char *who);
long sum(long n);
#endif
