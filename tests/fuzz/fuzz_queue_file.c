/*
 * fuzz_queue_file - libFuzzer target for the queue file reader: the input
 * is the file (in a memfd). A file that parses must have its content
 * inside the file and every status applied to an existing recipient.
 */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mail/queue_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct queue_msg *msg;
	const char *error;
	int fd = memfd_create("queue", MFD_CLOEXEC);

	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	if (queue_file_read_fd(fd, "fuzz", &msg, &error) == 0) {
		if (msg->rcpt_count == 0 || msg->content_offset < 0 ||
		    msg->content_offset + msg->content_size > (off_t)size ||
		    msg->valid_size > (off_t)size)
			abort();
		queue_msg_free(&msg);
	}
	close(fd);
	return 0;
}
