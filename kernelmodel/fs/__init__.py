"""The filesystem side (fs/ in the kernel tree): bios, the little ext2-like filesystem, inode
writeback, mpage, fsync, open, read and write.
"""
