/*  orch_czmq.h - czmq's containers (zhashx, zlistx) for the orchestrator.

    czmq.h pulls in <syslog.h>, whose LOG_DEBUG (7) and LOG_INFO (6) macros
    silently replace log.h's enumerators of the same names (log_event would
    then index past its level names). Include czmq through this header only:
    it removes the syslog macros, so log.h's names mean log.h's levels.
*/
#ifndef ORCH_CZMQ_H_INCLUDED
#define ORCH_CZMQ_H_INCLUDED

#include <czmq.h>

#undef LOG_DEBUG
#undef LOG_INFO
#undef LOG_WARN
#undef LOG_ERROR

#endif
